"""Meeting measures: MOG and CSE scorecards, MASE areas, screening, reviews, the best view of a person and data quality."""
