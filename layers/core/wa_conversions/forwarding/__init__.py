"""Forwarding conversions (docs/events.md, conversion events) to Wax, Meta's Conversions API for
Business Messaging, CM.com and 360dialog, each a `wa_conversions.delivery.Destination`."""
