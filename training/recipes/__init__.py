"""Training recipes: end-to-end runs that produce a shippable model (e.g. the bundled demo model)."""
