"""massmail: email marketing for a Django CRM, sent by Celery through managers' own accounts."""
