"""AI categorization service: decides department and priority of new tickets."""
