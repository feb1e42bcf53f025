"""Agents and assignment: who works a department's tickets, and which agent gets each."""
