"""Code generated from schemas/asyncapi.yaml. Do not edit; run python -m homesim.schemas.regen."""
