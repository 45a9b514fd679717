"""wa-conversions: WhatsApp capture, attribution and conversion forwarding."""
