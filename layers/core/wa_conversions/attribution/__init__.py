"""Attribution: Shopify orders and off-thread conversions matched to the WhatsApp contact and to the
Click-to-WhatsApp ad click that started the conversation."""
