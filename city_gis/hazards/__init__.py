"""Geohazard monitoring and early warning: devices on hazard points, readings (MQTT/HTTP), alert rules, alerts."""
