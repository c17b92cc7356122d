"""Every write to a recovery, and the rules of the method, in one package by topic.

Pages, the API, admin actions, management commands and Celery tasks all call these functions, as
`incidents.services.<name>`. Each one runs in a transaction with the incident row locked, checks the
order of the steps, writes the step, moves the clocks (`next_due_at`) and the stage, and appends to the
timeline. A broken rule raises `RecoveryError` (or a subclass) and nothing is written.

The topics: base (errors and shared helpers), organizations, customers, team (owners, helpers, who may
direct), clocks (policy, stage), incident_logging, incident_details (a logged incident's details changed),
gestures, steps.
"""

from .base import (  # noqa: F401
    CLOCK_SKEW,
    Conflict,
    NotAllowed,
    RecoveryError,
    StepChanged,
    StepOutOfOrder,
    TREND_FIELDS,
    validate,
)
from .organizations import (  # noqa: F401
    coach_phrases,
    create_organization,
    discretion_budget,
    remaining_budget,
    check_coach_phrase,
    save_coach_phrase,
)
from .customers import (  # noqa: F401
    care_flag_period_changed,
    clear_care_flag,
    customer_from_details,
    flag_customer,
    known_customer,
    phone_number,
    set_contact_preferences,
    set_lifetime_value,
)
from .team import (  # noqa: F401
    add_helper,
    is_integration,
    may_direct,
    reassign,
    remove_helper,
    staff_named,
)
from .calendars import attach_calendars, calendar_for, forget_calendar, public_holidays  # noqa: F401
from .clocks import (  # noqa: F401
    clocks_of,
    facts_for,
    follow_ups_of,
    mark_breached,
    next_promises,
    policy_for,
    stage_of,
)
from .incident_logging import (  # noqa: F401
    category_named,
    log_incident,
    log_incident_once,
)
from .incident_details import (  # noqa: F401
    DETAILS,
    may_change_details,
    update_details,
)
from .gestures import (  # noqa: F401
    also_when_gestures_lapse,
    decide_gesture,
    give_gesture,
    lapse_waiting_gestures,
)
from .steps import (  # noqa: F401
    record_apology,
    record_deposition,
    record_fix,
    record_follow_up,
    record_outcome,
    record_review,
)
