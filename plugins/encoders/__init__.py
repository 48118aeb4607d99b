"""Built-in encoder plugins: raw images and captions -> features (`clip`, `precomputed`)."""
