"""The managers' console and trends: open recoveries, the scorecard, the heatmap, breakdowns, clusters,
the CSV export and the weekly digest. Every figure is computed by the database (see `selectors`)."""
