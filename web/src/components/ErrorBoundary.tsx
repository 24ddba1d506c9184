import { Component, type ReactNode } from 'react';

/** Shows what went wrong instead of a blank page when a part of the page fails to render. */
export class ErrorBoundary extends Component<{ children: ReactNode; name: string }, { error: Error | null }> {
  state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  render() {
    if (this.state.error) {
      return (
        <div className="error" role="alert" data-testid={`crash-${this.props.name}`}>
          {this.props.name} failed: {this.state.error.message}{' '}
          <button onClick={() => this.setState({ error: null })}>retry</button>
        </div>
      );
    }
    return this.props.children;
  }
}
