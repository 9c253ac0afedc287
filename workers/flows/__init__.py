"""Conversational flows (chatbots): definitions are in db.flows, execution in workers.flows.engine."""
