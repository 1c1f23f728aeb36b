"""Per-model evaluation: generate, measure with facegan.metrics, write what a person looks at."""
