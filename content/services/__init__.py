"""Every write about content. Import from the submodules."""
