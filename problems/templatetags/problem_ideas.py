"""`{% ideas_section problem as ideas %}`: what the problem page's "What customers suggested" section
shows, loaded from the problem alone (the page that includes it passes only `problem`)."""

from django import template

from problems import ideas as idea_services

register = template.Library()

# Where a refused form's errors and typed text wait for the page after the redirect (one read).
FLASH_KEY = "problem-ideas-{}"


@register.simple_tag(takes_context=True)
def ideas_section(context, problem):
    request = context.get("request")
    session = getattr(request, "session", None)
    flash = (session.pop(FLASH_KEY.format(problem.pk), None) if session is not None else None) or {}
    suggestions = []
    for suggestion in idea_services.suggestions_for(problem):
        key = f"attach-{suggestion.incident.pk}-{suggestion.source}"
        suggestions.append({"s": suggestion, "key": key, "text": flash["text"] if flash.get("form") == key else suggestion.text,
                            "errors": flash.get("errors", {}) if flash.get("form") == key else {},
                            "message": flash.get("message") if flash.get("form") == key else ""})
    fixed = idea_services.is_fixed(problem)
    changed = idea_services.what_we_changed(problem) if fixed else ("", False)
    ideas = []
    for idea in idea_services.ideas_of(problem):
        key = f"thank-{idea.pk}"
        row = {"idea": idea, "key": key, "errors": {}, "message": ""}
        if fixed and idea.thanked_at is None:
            row["can_be_messaged"] = idea_services.can_be_messaged(idea)
            row["draft"] = flash["text"] if flash.get("form") == key else idea_services.thank_you_draft(idea, changed)
            if flash.get("form") == key:
                row["errors"], row["message"] = flash.get("errors", {}), flash.get("message", "")
        ideas.append(row)
    shown = {row["key"] for row in suggestions} | {row["key"] for row in ideas if "draft" in row}
    # Many linked incidents make a long list of suggestions: folded, unless short or one was just refused.
    unfold = len(suggestions) <= 3 or any(row["message"] for row in suggestions)
    return {"suggestions": suggestions, "unfold_suggestions": unfold, "ideas": ideas, "fixed": fixed,
            "to_thank": [row for row in ideas if "draft" in row],
            # A refusal for a form no longer on the page (an incident not linked, an idea thanked meanwhile).
            "refused": flash if flash.get("form") and flash["form"] not in shown else None}
