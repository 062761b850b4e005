"""The head kinds, one module each; ``engine.heads.spec.load_kinds`` imports every module here."""
