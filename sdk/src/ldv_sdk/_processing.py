"""Declaring a processing: `verwerking(...)` as a decorator (bare or with arguments) and as a context manager.

Nothing is captured by default: the data subject comes from the argument the developer
names (`subject="bsn"` or `subject=lambda args: args["aanvraag"].bsn`), from the result
(`subject_from_result=...`), or from `add_subject()` inside the block.

`verwerking(...)` returns a `Declaration`, an immutable value that is safe to define once and
share between functions, tasks and threads. Each entry opens a `Verwerking` of its own
(`Declaration.open()`, a context manager), held in a `ContextVar` while it runs.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import os
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ParamSpec, TypeVar, overload
from urllib.parse import quote

from opentelemetry import context as otel_context
from opentelemetry.trace import NonRecordingSpan, Span, SpanKind, Status, StatusCode, set_span_in_context

from ldv_logboek import DEFAULT_NAME, is_uri
from ldv_logboek import attributes as attr
from ldv_sdk._propagation import INCOMING_CALL, IncomingCall, current_incoming_call
from ldv_sdk._runtime import Runtime, get_runtime
from ldv_sdk.errors import LdvError, LoggingFailed, ProcessingReentered, SpoolDiskFull, SpoolFull

log = logging.getLogger("ldv_sdk")

P = ParamSpec("P")
R = TypeVar("R")
SubjectValue = str | int | Iterable[str | int] | None
SubjectFrom = str | Callable[[Mapping[str, Any]], SubjectValue]
AttributeValue = str | bool | int | float

_current: contextvars.ContextVar[Verwerking | None] = contextvars.ContextVar("ldv_current", default=None)
_warned_activities: set[str] = set()


def current() -> Verwerking | None:
    """The innermost processing running in this context (to add subjects from deeper code).

    None outside any processing; a processing that is not logged (SDK not configured) is a no-op.
    """
    return _current.get()


@contextlib.contextmanager
def incoming_request(call: IncomingCall) -> Iterator[None]:
    """Handle a request from another application: its processings continue `call`.

    A request is a boundary: a processing of this process that happens to be current (an
    in-process test client, say) is not the parent of the request's processings.
    """
    incoming_token, current_token = INCOMING_CALL.set(call), _current.set(None)
    try:
        yield
    finally:
        _current.reset(current_token)
        INCOMING_CALL.reset(incoming_token)


def _activity_uri(activity: str | None, runtime: Runtime) -> str | None:
    """The processing activity as a URI: a URI as given, a bare id under `register_base_uri`; kept
    in `runtime.activity_uris` (`_start` looks there first: it runs every processing).

    Without a register base URI a bare id becomes `urn:ldv:processing-activity:<id>` (with a
    warning once), so the record stays valid; under the fail-closed policy it is an error.
    """
    if not activity:
        return None
    if is_uri(activity):
        uri = activity
    elif base := runtime.config.register_base_uri:
        uri = base.rstrip("/") + "/" + quote(activity.strip(), safe="")
    elif runtime.config.fail_closed:
        raise LoggingFailed("processing activity is not a URI and no register_base_uri is configured")
    else:
        if activity not in _warned_activities:
            _warned_activities.add(activity)
            log.warning("LDV: processing activity is no URI and no register_base_uri is set; using a urn:ldv: URI")
        uri = "urn:ldv:processing-activity:" + quote(activity.strip(), safe="")
    runtime.activity_uris[activity] = uri
    return uri


_NEW, _RUNNING, _ENDED = 0, 1, 2


class Verwerking:
    """One processing action: made by `Declaration.open()`, once per entry of a declaration.

    Entering it starts the action and makes it the current processing of this context
    (`current()`); leaving it logs the record(s). `with verwerking(...) as v` hands it out.
    Use `add_subject()` for every data subject (N subjects give N child records under this
    action, one gives a single record), `mark_ok()` to log status Ok, `mark_error()` for an
    internal fault that was handled inside the block. When the SDK is not configured (or
    could not start the record, under the fail-open policy) every method is a no-op.
    """

    __slots__ = (
        "_declaration", "_name", "_runtime", "_subjects", "_ok", "_error", "_span", "_tokens", "_state", "_mono_start",
    )  # fmt: skip

    def __init__(self, declaration: Declaration, name: str) -> None:
        self._declaration = declaration
        self._name = name
        self._runtime: Runtime | None = None
        self._subjects: dict[tuple[str, str], int] = {}
        self._ok = False
        self._error: BaseException | None = None
        self._span: Span | None = None
        self._tokens: tuple[contextvars.Token[Verwerking | None], object] | None = None
        self._state = _NEW
        self._mono_start = 0  # time.monotonic_ns() when the span started (its start_time on the wall clock)

    # -- for the developer ------------------------------------------------------------------

    def add_subject(self, subject_id: str | int | None, subject_type: str | None = None) -> None:
        """Add a data subject; its id is pseudonymised (keyed HMAC) at once. None is ignored."""
        runtime = self._runtime
        if subject_id is None or runtime is None or self._state != _RUNNING:
            return
        text = str(subject_id).strip()
        if not text:
            log.warning("LDV: an empty data subject id was ignored")
            return
        kind = subject_type or self._declaration.subject_type
        self._subjects.setdefault((runtime.pseudonymiser.subject(text, kind), kind), self._now_ns())

    def add_subjects(self, subject_ids: SubjectValue, subject_type: str | None = None) -> None:
        """Add every subject in `subject_ids` (a single id, an iterable of ids, or None)."""
        if subject_ids is None:
            return
        if isinstance(subject_ids, (str, int)):
            self.add_subject(subject_ids, subject_type)
            return
        for subject_id in subject_ids:
            self.add_subject(subject_id, subject_type)

    def mark_ok(self) -> None:
        """Log status Ok (the default is Unset). Also right for a deliberate cancel by the user."""
        self._ok = True

    def mark_error(self, exc: BaseException | None = None) -> None:
        """Log status Error for an internal fault the block handled itself (with `exception.*` when given)."""
        self._error = exc if exc is not None else RuntimeError("internal fault")

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Set an attribute on this action's record(s). Personal data only where you mean it."""
        if self._span is not None and self._state == _RUNNING:
            self._span.set_attribute(key, value)

    def set_external_read_api(self, read_api_url: str) -> None:
        """Record that this action called another party whose LDV read API is `read_api_url`."""
        if is_uri(read_api_url):
            self.set_attribute(attr.EXTERNAL_READ_API_ID, read_api_url)
        else:
            log.warning("LDV: external read API id is not a URI; not recorded")

    @property
    def name(self) -> str:
        return self._name

    @property
    def declaration(self) -> Declaration:
        """The declaration this processing was opened from."""
        return self._declaration

    @property
    def trace_id(self) -> str:
        """This action's trace id (32 hex digits); empty when not logged."""
        return f"{self._span.get_span_context().trace_id:032x}" if self._span is not None else ""

    @property
    def span_id(self) -> str:
        """This action's span id (16 hex digits); empty when not logged."""
        return f"{self._span.get_span_context().span_id:016x}" if self._span is not None else ""

    @property
    def span(self) -> Span | None:
        """The OpenTelemetry span of this action (None when the SDK is not configured)."""
        return self._span

    # -- context manager: the one place a processing starts and ends ------------------------------

    def __enter__(self) -> Verwerking:
        if self._state != _NEW:
            raise ProcessingReentered("a processing is entered once: open() the declaration again for another one")
        runtime = get_runtime()
        otel_token = None
        if runtime is not None:
            span = self._start(runtime)
            if span is not None:
                otel_token = otel_context.attach(set_span_in_context(span))
        elif os.environ.get("LDV_FAILURE_POLICY", "").strip().lower() == "closed":
            raise LoggingFailed("the LDV SDK is not configured, and the failure policy is closed")
        self._state = _RUNNING
        self._tokens = (_current.set(self), otel_token)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self._finish(exc)

    async def __aenter__(self) -> Verwerking:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self._finish(exc)

    # -- life cycle ---------------------------------------------------------------------------

    def _start(self, runtime: Runtime) -> Span | None:
        """Start the span; None (runs unlogged) when that fails under the fail-open policy."""
        closed = runtime.fail_closed
        if closed and not runtime.can_log():
            raise SpoolFull("the LDV spool is full: the processing is refused because it cannot be logged")
        declaration = self._declaration
        try:
            attributes: dict[str, AttributeValue] = {}
            activity = runtime.activity_uris.get(declaration.activity) or _activity_uri(declaration.activity, runtime)  # type: ignore[arg-type]
            if activity:
                attributes[attr.PROCESSING_ACTIVITY_ID] = activity
            kind = SpanKind.INTERNAL
            parent = _current.get()
            ctx: otel_context.Context | None
            if parent is not None and parent._span is not None:
                ctx = set_span_in_context(parent._span)
            else:
                now = otel_context.get_current()
                incoming = current_incoming_call(now)
                if incoming is not None:
                    ctx = set_span_in_context(NonRecordingSpan(incoming.span_context))
                    kind = SpanKind.SERVER
                    attributes[attr.FOREIGN_OPERATION_SPAN_ID] = f"{incoming.span_context.span_id:016x}"
                    if incoming.processor and is_uri(incoming.processor):
                        attributes[attr.FOREIGN_OPERATION_PROCESSOR] = incoming.processor
                else:
                    ctx = now  # the application's current span, if any: same trace
            if declaration.attributes:
                attributes.update(declaration.attributes)
            span = runtime.tracer.start_span(self._name or DEFAULT_NAME, context=ctx, kind=kind, attributes=attributes)
        except LdvError:
            raise
        except Exception as bug:  # noqa: BLE001
            if closed:
                raise LoggingFailed(f"the processing could not be logged: {type(bug).__name__}") from bug
            log.exception("LDV: could not start a record; the processing runs unlogged")
            return None
        self._runtime = runtime
        self._span = span
        self._mono_start = time.monotonic_ns()
        return span

    def _finish(self, exc: BaseException | None) -> None:
        """End the action and its subject records; raise LoggingFailed under the fail-closed policy."""
        if self._state != _RUNNING:
            return
        self._state = _ENDED
        span = self._span
        runtime = self._runtime
        if span is None or runtime is None:
            self._detach()
            return
        failure: BaseException | None = None
        try:
            fault = self._error
            if exc is not None and isinstance(exc, Exception) and not isinstance(exc, self._declaration.expected):
                fault = exc
            if fault is not None:
                span.set_attributes(_exception_attributes(fault, runtime.config.record_stacktrace))
                span.set_status(Status(StatusCode.ERROR, type(fault).__name__))
            elif self._ok:
                span.set_status(Status(StatusCode.OK))
            end_ns = self._now_ns()
            subjects = self._subjects
            if len(subjects) == 1:
                ((subject, subject_type),) = subjects
                span.set_attribute(attr.DATA_SUBJECT_ID, subject)  # two calls: set_attributes cleans a whole mapping, slower
                span.set_attribute(attr.DATA_SUBJECT_ID_TYPE, subject_type)
            elif subjects:
                failure = self._end_subject_records(runtime, span, end_ns)
            span.end(end_time=end_ns)
            if runtime.processor.failures:  # the usual case: none, and no span context to read
                failure = runtime.processor.take_failure(span) or failure
        except Exception as bug:  # noqa: BLE001 - an SDK bug must not break the host code
            failure = bug
            log.exception("LDV: the SDK failed to finish a record")
        finally:
            self._detach()
        # A full disk under the spool fails the processing under either policy: the record could
        # not be kept anywhere, and the processing must not look logged (sdk/README.md, spool).
        if failure is not None and (runtime.config.fail_closed or isinstance(failure, SpoolDiskFull)) and exc is None:
            if isinstance(failure, LoggingFailed):  # SpoolFull and the like: already meant for host code
                raise failure
            raise LoggingFailed(f"the processing could not be logged durably: {type(failure).__name__}") from failure

    def _now_ns(self) -> int:
        """Now, as the span's start time plus the time elapsed on the monotonic clock.

        Not the wall clock: one that is set back during the processing (NTP, a VM resumed, an
        operator) would give an end before the start, which the standard's rule `end-time`
        refuses, and the record would be lost; one set forward would stretch its duration.
        The start time is the service's own wall clock, as the standard asks.
        """
        start_ns = getattr(self._span, "start_time", None)
        if not start_ns or not self._mono_start:
            return time.time_ns()
        return int(start_ns) + max(0, time.monotonic_ns() - self._mono_start)

    def _end_subject_records(self, runtime: Runtime, span: Span, end_ns: int) -> BaseException | None:
        # Rule 6: one child action per data subject under this action, started when the
        # subject became known (which may be after a reply from another application).
        start_ns = getattr(span, "start_time", None) or end_ns
        shared = dict(getattr(span, "attributes", None) or {})
        status = getattr(span, "status", Status(StatusCode.UNSET))
        ctx = set_span_in_context(span)
        failure = None
        for (subject, subject_type), added_ns in self._subjects.items():
            child = runtime.tracer.start_span(
                self._name,
                context=ctx,
                kind=SpanKind.INTERNAL,
                attributes={**shared, attr.DATA_SUBJECT_ID: subject, attr.DATA_SUBJECT_ID_TYPE: subject_type},
                start_time=min(max(added_ns, start_ns), end_ns),
            )
            child.set_status(status)
            child.end(end_time=end_ns)
            failure = runtime.processor.take_failure(child) or failure
        return failure

    def _detach(self) -> None:
        if self._tokens is not None:
            current_token, otel_token = self._tokens
            self._tokens = None
            try:
                if otel_token is not None:
                    otel_context.detach(otel_token)  # type: ignore[arg-type]
                _current.reset(current_token)
            except ValueError:
                # Left in another context than it was entered in (a processing opened in one
                # task and left in another): that context holds nothing of it to undo.
                pass


def _exception_attributes(exc: BaseException, stacktrace: bool) -> dict[str, str]:
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    out = {attr.EXCEPTION_TYPE: name, attr.EXCEPTION_MESSAGE: str(exc)}
    if stacktrace:
        out[attr.EXCEPTION_STACKTRACE] = "".join(traceback.format_exception(exc))
    return out


@dataclass(frozen=True, slots=True, eq=False)
class Declaration:
    """A declared processing, as `verwerking(...)` returns it: an immutable value, to define once and share.

    It holds no state of a running processing: every entry (a call of a decorated function,
    `with`, `async with`) opens its own `Verwerking`, held as the current processing of its
    context (a `ContextVar`), so concurrent tasks and threads that share one declaration each
    log their own record, and entries of the same declaration nest.
    """

    activity: str | None = None
    name: str | None = None
    subject: SubjectFrom | None = None
    subject_type: str = attr.SUBJECT_TYPE_BSN
    subject_from_result: Callable[[Any], SubjectValue] | None = None
    expected: tuple[type[BaseException], ...] = ()
    attributes: Mapping[str, AttributeValue] | None = None

    def __post_init__(self) -> None:
        # Immutable all the way down: a read-only copy of the attributes, so that neither the
        # caller's dict nor a handler can change what every later processing records.
        object.__setattr__(self, "expected", tuple(self.expected))
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)) if self.attributes else None)

    def open(self, name: str | None = None) -> Verwerking:
        """A new processing of this declaration, as a context manager (`with` and `async with`).

        Entering it starts the action, leaving it logs the record(s). `name` overrides the
        declared name (the decorator passes the function's name when none was declared).
        """
        return Verwerking(self, name or self.name or self.activity or DEFAULT_NAME)

    # -- context manager: a new processing per entry ---------------------------------------------

    def __enter__(self) -> Verwerking:
        if self.subject is not None or self.subject_from_result is not None:
            raise TypeError("subject= and subject_from_result= are for the decorator; use v.add_subject() in a with block")
        return self.open().__enter__()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        # The processing this block entered is the current one of this context: blocks in one
        # context nest, and other tasks and threads have contexts of their own.
        v = _current.get()
        if v is None or v._declaration is not self:
            log.error("LDV: a `with` block of %r ended in another context than it began; it is not logged", self.name or self.activity)
            return
        v._finish(exc)

    async def __aenter__(self) -> Verwerking:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- decorator ------------------------------------------------------------------------------

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            # A generator's body runs between other code's steps, so "the processing" has no
            # clear start and end; refuse here (import time) instead of logging something wrong.
            raise TypeError(
                f"@verwerking cannot decorate the generator {func.__qualname__}: "
                "put `with verwerking(...)` inside it around the processing instead"
            )
        # This function's own name when none was declared; the declaration stays as it is.
        name = self.name if self.name is not None else func.__qualname__.rsplit("<locals>.", 1)[-1]
        extract = _subject_extractor(func, self.subject)
        from_result = self.subject_from_result
        open_processing = self.open

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                with open_processing(name) as v:
                    if extract is not None:
                        _add_subjects(v, extract, args, kwargs)
                    result: R = await func(*args, **kwargs)  # type: ignore[misc]
                    if from_result is not None:
                        _add_subjects(v, from_result, result)
                    return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with open_processing(name) as v:
                if extract is not None:
                    _add_subjects(v, extract, args, kwargs)
                result = func(*args, **kwargs)
                if from_result is not None:
                    _add_subjects(v, from_result, result)
                return result

        return wrapper


def _subject_extractor(
    func: Callable[..., Any], subject: SubjectFrom | None
) -> Callable[[tuple[Any, ...], dict[str, Any]], SubjectValue] | None:
    """Work out once, at decoration time, how to take the subject from a call's arguments."""
    if subject is None:
        return None
    signature = inspect.signature(func)
    if isinstance(subject, str):
        if subject not in signature.parameters:
            raise TypeError(f"@verwerking(subject={subject!r}): {func.__qualname__} has no parameter {subject!r}")
        param = signature.parameters[subject]
        position = list(signature.parameters).index(subject)
        positional = param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD)
        default = None if param.default is param.empty else param.default

        def by_name(args: tuple[Any, ...], kwargs: dict[str, Any]) -> SubjectValue:
            if positional and position < len(args):
                return args[position]
            return kwargs.get(subject, default)

        return by_name
    if callable(subject):

        def by_callable(args: tuple[Any, ...], kwargs: dict[str, Any]) -> SubjectValue:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return subject(bound.arguments)

        return by_callable
    raise TypeError("subject must be a parameter name or a callable taking the call's arguments")


def _add_subjects(v: Verwerking, take: Callable[..., SubjectValue], *given: Any) -> None:
    """Add the subjects `take(*given)` finds (in the call's arguments, or in its result)."""
    try:
        v.add_subjects(take(*given))
    except Exception as exc:  # noqa: BLE001 - the developer's extractor failed; apply the policy
        runtime = v._runtime
        if v._span is not None and runtime is not None and runtime.config.fail_closed:
            # Raised inside the processing: its record says Error with this exception.
            raise LoggingFailed(f"the data subject could not be taken: {type(exc).__name__}") from exc
        log.warning("LDV: the data subject could not be taken (%s); the record has no subject", type(exc).__name__)


@overload
def verwerking(activity: Callable[P, R]) -> Callable[P, R]: ...


@overload
def verwerking(
    activity: str | None = None,
    name: str | None = None,
    *,
    subject: SubjectFrom | None = None,
    subject_type: str = attr.SUBJECT_TYPE_BSN,
    subject_from_result: Callable[[Any], SubjectValue] | None = None,
    expected: tuple[type[BaseException], ...] = (),
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Declaration: ...


def verwerking(
    activity: str | Callable[..., Any] | None = None,
    name: str | None = None,
    *,
    subject: SubjectFrom | None = None,
    subject_type: str = attr.SUBJECT_TYPE_BSN,
    subject_from_result: Callable[[Any], SubjectValue] | None = None,
    expected: tuple[type[BaseException], ...] = (),
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Any:
    """Declare a processing (verwerking): one LDV action, logged when it ends.

    - `activity`: the processing activity, a URI or an id in the register (`register_base_uri`).
    - `name`: a human readable name of the action (default: the function's qualified name).
    - `subject`: (decorator) the parameter that holds the data subject id, or a callable that
      takes the call's arguments (a name -> value mapping) and returns an id, ids, or None.
    - `subject_type`: the `dpl.core.data_subject_id_type` (default `BSN`).
    - `subject_from_result`: (decorator) take subject(s) from the return value.
    - `expected`: exception types that mean handled bad user input: status stays Unset (not Error).
    - `attributes`: extra attributes for the record(s), such as extension `dpl.<ext>.*` keys.

    Use as `@verwerking`, `@verwerking("huurtoeslag", subject="bsn")`, or
    `with verwerking("huurtoeslag", "huurtoeslag berekenen") as v: v.add_subject(bsn)`.
    Sync and async functions work; generators are refused at decoration time. The
    `Declaration` returned is immutable: define it once and share it (every entry is a
    processing of its own).
    """
    if callable(activity) and not isinstance(activity, str):
        return Declaration()(activity)
    return Declaration(activity, name, subject, subject_type, subject_from_result, tuple(expected), attributes)
