"""Files in and out: decoding photos safely, composing and writing outputs atomically with
their provenance, the article's panel."""
