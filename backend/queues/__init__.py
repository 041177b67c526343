"""Queue diversion: live and typical waits at branches, soonest-served ranking, remote tickets."""
