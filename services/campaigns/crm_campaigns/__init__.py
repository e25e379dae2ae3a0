"""The campaigns service: mailing, telemarketing, social ads / RD Station leads and trade fairs (Campaña)."""
