"""Actions that configure the whole integration from a connection: Finish of the assisted setup, Enable, Disable,
Redeploy Integration Solution and the Sales settings. They sit above the job queue and the mappings, which they
configure, and below the pages and commands that start them."""
