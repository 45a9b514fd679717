"""CM.com channel events: mark-as-read, block and unblock, requested by operators or automatically,
sent to CM.com's events endpoint through the delivery machinery (wa_conversions.delivery)."""
