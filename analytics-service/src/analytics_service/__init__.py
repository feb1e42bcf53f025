"""Analytics service: a projection of every ticket event and the dashboards read from it."""
