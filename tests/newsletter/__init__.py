"""A host that installs massmail under the label "newsletter" (its project already has an
app labelled "massmail", as Django CRM does). Run by tests/test_hosts_label.py in a
separate pytest session with tests/settings_newsletter.py."""
