"""The wizard's Textual TUI: the app (wiring), its screens and widgets. The only package that
imports textual; the core never imports it, and cli.py starts it lazily."""
