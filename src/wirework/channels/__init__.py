"""Chat platforms: a bot's connections to Telegram, Slack, Discord, WhatsApp and a generic signed
webhook. Each platform is an adapter (`registry`) that verifies inbound deliveries, reads their
messages and sends replies; `service` keeps the connections (secrets sealed in a credential) and
hands verified messages to `bots.service`, which stores and routes them. The adapters know nothing
of the database."""
