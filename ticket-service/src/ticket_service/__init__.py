"""Ticket service: owns tickets, their lifecycle and the events announcing them."""
