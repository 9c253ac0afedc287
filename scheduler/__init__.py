"""The scheduler process: APScheduler with one leader at a time; its jobs only claim and enqueue."""
