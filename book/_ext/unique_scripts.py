"""A Sphinx extension that drops repeated inline scripts from a page.

sphinx-thebe registers its configuration script once per environment read, and Jupyter
Book reads the environment twice, so every page declared ``THEBE_JS_URL`` twice and the
browser reported an error. This keeps the first copy of each identical script.
"""


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # an inline script's file name is None or "" depending on who added it
        key = (getattr(script, "filename", script) or "",
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique  # in place: later handlers still add to this list


def setup(app):
    # early: Sphinx stops calling html-page-context handlers once one returns a template
    app.connect("html-page-context", drop_repeated_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
