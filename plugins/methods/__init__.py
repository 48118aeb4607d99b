"""Built-in method plugins: one module per method family (`_crossmodal_common` holds the
pieces the deep cross-modal methods share)."""
