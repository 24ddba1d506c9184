"""Grafana dashboards (as code); see dashboards.py."""
