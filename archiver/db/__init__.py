"""SQL side: models, sessions, migrations, work queue, search, read models."""
