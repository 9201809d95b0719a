"""CLI sub-commands. Each module has `register(subparsers)`; heavy imports happen inside handlers."""
