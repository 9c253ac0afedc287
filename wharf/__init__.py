"""Cross-cutting pieces shared by every Wharf process: settings, the CLI, logging."""
