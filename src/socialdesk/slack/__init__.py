"""Everything Slack sees: ids, text escaping, Block Kit builders, Web API calls."""
