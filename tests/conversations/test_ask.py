"""`ask()`: a flow run asks its user and waits for the answer, played through `TestHost`."""

from __future__ import annotations

import datetime as dt

import anyio
import pytest

from botrt.adapter import Event, TextEvent
from botrt.handle import (
    ConversationCancelled,
    ConversationEnded,
    ConversationTimeout,
    Flow,
    FlowContextError,
    ask,
    flow_to,
    node,
    on_command,
    on_event,
    on_text,
    rewind,
)
from botrt.testing import ManualClock, TestHost
from botrt.testing._memory import MemoryEvent

pytestmark = pytest.mark.anyio

START = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)


@on_command("quiz")
async def quiz(event: TextEvent) -> None:
    answer = await ask("What is 2+2?")
    await answer.reply("Right!" if answer.text.strip() == "4" else "No: 4.")


class PingEvent(Event):
    """An event with no user and chat."""


def chat_event(text: str, *, user_id: int, peer_id: int, bot: str = "memory") -> MemoryEvent:
    ev = MemoryEvent(text, user_id=user_id, bot=bot)
    ev.peer_id = peer_id
    return ev


async def test_a_dialogue_plays_question_then_answer() -> None:
    async with TestHost(flows=[quiz]) as th:
        assert await th.send("/quiz") == ["What is 2+2?"]
        assert await th.send("4") == ["Right!"]
        assert await th.send("/quiz") == ["What is 2+2?"]
        assert await th.send("5") == ["No: 4."]


async def test_the_answer_goes_to_the_ask_only_not_to_other_flows() -> None:
    seen: list[str] = []

    @on_text()
    async def everything(event: TextEvent) -> None:
        seen.append(event.text)

    async with TestHost(flows=[quiz, everything]) as th:
        await th.send("/quiz")
        assert await th.send("/quiz") == ["No: 4."]  # an answer, even a command word
        assert seen == ["/quiz"]
        await th.send("hello")
        assert seen == ["/quiz", "hello"]


async def test_other_users_other_chats_and_other_bots_are_unaffected() -> None:
    async with TestHost(flows=[quiz]) as th:
        first = chat_event("/quiz", user_id=1, peer_id=2000000001)
        assert await th.emit(first) == ["What is 2+2?"]
        # Another user in the same group chat runs commands as usual.
        assert await th.emit(chat_event("/quiz", user_id=2, peer_id=2000000001)) == ["What is 2+2?"]
        # The same user in another chat, and on another bot, is not answering.
        assert await th.emit(chat_event("/quiz", user_id=1, peer_id=1)) == ["What is 2+2?"]
        assert await th.emit(chat_event("/quiz", user_id=1, peer_id=2000000001, bot="b2")) == [
            "What is 2+2?"
        ]
        assert len(th.dispatcher.dialogues.waiting) == 4
        assert await th.emit(chat_event("4", user_id=1, peer_id=2000000001)) == ["Right!"]
        assert await th.emit(chat_event("3", user_id=2, peer_id=2000000001)) == ["No: 4."]
        assert await th.emit(chat_event("4", user_id=1, peer_id=1)) == ["Right!"]
        assert await th.emit(chat_event("4", user_id=1, peer_id=2000000001, bot="b2")) == ["Right!"]
        assert th.dispatcher.dialogues.waiting == {}


async def test_several_questions_and_replies_through_the_first_message() -> None:
    @on_command("signup")
    async def signup(event: TextEvent) -> None:
        name = await ask("Your name?")
        age = await ask("Your age?")
        await event.reply(f"{name.text}, {age.text}")  # through the message that started it

    async with TestHost(flows=[signup]) as th:
        assert await th.send("/signup") == ["Your name?"]
        assert await th.send("Ann") == ["Your age?"]
        assert await th.send("20") == ["Ann, 20"]


async def test_ask_from_a_nested_call_a_sub_flow_and_a_rewinding_node() -> None:
    async def number(question: str) -> int:
        while True:
            answer = await ask(question)
            if answer.text.isdigit():
                return int(answer.text)
            await answer.reply("A number, please.")

    @node
    async def second(event: TextEvent) -> None:
        b = await number("Second?")
        await event.reply(f"b={b}")

    sub = Flow("sub", [second])

    @node
    async def first(event: TextEvent) -> None:
        a = await number("First?")
        await event.reply(f"a={a}")
        await flow_to(sub)

    tries: list[str] = []

    @node
    async def confirm(event: TextEvent) -> None:
        answer = await ask("Sure? yes/no")
        tries.append(answer.text)
        if answer.text != "yes":
            await rewind()  # the node asks again
        await answer.reply("Done.")

    sums = Flow("sums", [first, confirm])
    sums.set_guard(lambda e: isinstance(e, TextEvent) and e.text == "/sums")

    async with TestHost(flows=[sums]) as th:
        assert await th.send("/sums") == ["First?"]
        assert await th.send("x") == ["A number, please.", "First?"]
        assert await th.send("2") == ["a=2", "Second?"]
        assert await th.send("3") == ["b=3", "Sure? yes/no"]
        assert await th.send("no") == ["Sure? yes/no"]
        assert await th.send("yes") == ["Done."]
        assert tries == ["no", "yes"]


async def test_an_answer_with_no_text_still_answers() -> None:
    @on_command("photo")
    async def photo(event: TextEvent) -> None:
        answer = await ask("Send a photo")
        await answer.reply("no text" if answer.text == "" else answer.text)

    async with TestHost(flows=[photo]) as th:
        await th.send("/photo")
        assert await th.send("") == ["no text"]


async def test_a_cancel_word_ends_the_ask_and_tells_the_user() -> None:
    config = {"conversations": {"cancel": ["/cancel", "Stop"]}}
    async with TestHost(flows=[quiz], config=config) as th:
        await th.send("/quiz")
        assert await th.send("  STOP ") == ["The conversation was cancelled."]
        assert th.dispatcher.dialogues.waiting == {}
        await th.send("/quiz")
        assert await th.send("/cancel") == ["The conversation was cancelled."]
        # Not a whole-text match: an answer.
        await th.send("/quiz")
        assert await th.send("stop it") == ["No: 4."]


async def test_a_caught_end_is_the_handlers_own(caplog: pytest.LogCaptureFixture) -> None:
    @on_command("pick")
    async def pick(event: TextEvent) -> None:
        try:
            await ask("Pick one")
        except ConversationCancelled as exc:
            await event.reply(f"cancelled by {exc.word}")

    async with TestHost(flows=[pick]) as th:
        await th.send("/pick")
        assert await th.send("/cancel") == ["cancelled by /cancel"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert issubclass(ConversationCancelled, ConversationEnded)
    assert issubclass(ConversationTimeout, ConversationEnded)


async def test_the_end_notice_speaks_the_bots_language() -> None:
    config = {"bot": {"language": "ru"}}
    async with TestHost(flows=[quiz], config=config) as th:
        await th.send("/quiz")
        assert await th.send("/cancel") == ["Разговор отменён."]


async def test_a_timeout_on_the_hosts_clock(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock(START)
    ended: list[float] = []

    @on_command("slow")
    async def slow(event: TextEvent) -> None:
        try:
            await ask("Quick?", timeout=30)
        except ConversationTimeout as exc:
            ended.append(exc.timeout)
            raise

    config = {"conversations": {"timeout": 120}}
    async with TestHost(flows=[quiz, slow], config=config, clock=clock) as th:
        first = MemoryEvent("/quiz")
        assert await th.emit(first) == ["What is 2+2?"]
        await clock.wait_sleeping(1)  # one sweeper for every waiting ask
        clock.advance(START + dt.timedelta(seconds=119))
        await th.settle()
        assert first.replies == ["What is 2+2?"]
        clock.advance(START + dt.timedelta(seconds=120))
        await th.settle()
        assert first.replies[1:] == ["The conversation ended: no answer came in time."]
        assert th.dispatcher.dialogues.waiting == {}
        await clock.wait_sleeping(0)  # nothing waits: the sweeper ended
        # The ask's own timeout wins over [conversations] timeout.
        other = MemoryEvent("/slow", user_id=2)
        await th.emit(other)
        clock.advance(START + dt.timedelta(seconds=150))
        await th.settle()
        assert ended == [30.0]
        assert other.replies[1:] == ["The conversation ended: no answer came in time."]
        # After a timeout, the user's messages go to the flows again.
        assert await th.send("/quiz") == ["What is 2+2?"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_an_earlier_deadline_wakes_the_sweeper() -> None:
    clock = ManualClock(START)

    @on_command("ask")
    async def asking(event: TextEvent) -> None:
        await ask("?", timeout=float(event.text.split()[1]))

    async with TestHost(flows=[asking], clock=clock) as th:
        long = MemoryEvent("/ask 100", user_id=1)
        short = MemoryEvent("/ask 10", user_id=2)
        await th.emit(long)
        await clock.wait_sleeping(1)  # the sweeper sleeps until the long one's deadline
        await th.emit(short)
        clock.advance(START + dt.timedelta(seconds=10))
        await th.settle()
        assert short.replies == ["?", "The conversation ended: no answer came in time."]
        assert long.replies == ["?"]
        assert list(th.dispatcher.dialogues.waiting) == [("memory", 1, 1)]


async def test_closing_the_test_host_tells_the_waiting_users() -> None:
    waiting = MemoryEvent("/quiz", user_id=7)
    async with TestHost(flows=[quiz]) as th:
        await th.emit(waiting)
    assert waiting.replies == [
        "What is 2+2?",
        "The conversation was interrupted: the bot is restarting. Please start again in a minute.",
    ]


async def test_ask_outside_a_text_run_is_a_clear_error() -> None:
    with pytest.raises(FlowContextError, match="ask\\(\\) works only inside a flow run"):
        await ask("?")

    errors: list[BaseException] = []

    @on_event(PingEvent)
    async def on_ping(event: Event) -> None:
        try:
            await ask("?")
        except FlowContextError as exc:
            errors.append(exc)

    async with TestHost(flows=[on_ping]) as th:
        await th.emit(PingEvent(platform="memory", bot="memory"))
    assert len(errors) == 1
    assert "started by a text message" in str(errors[0])
    assert "PingEvent" in str(errors[0])


async def test_a_second_ask_for_the_same_user_and_chat_is_refused() -> None:
    refused: list[str] = []

    @on_text()
    async def one(event: TextEvent) -> None:
        if event.text == "/two":
            await ask("first")

    @on_text()
    async def two(event: TextEvent) -> None:
        if event.text == "/two":
            try:
                await ask("second")
            except FlowContextError as exc:
                refused.append(str(exc))

    async with TestHost(flows=[one, two]) as th:
        await th.send("/two")
        assert len(refused) == 1
        assert "already waits for user 1" in refused[0]


async def test_a_keyboard_goes_with_the_prompt_only_when_given() -> None:
    keyboard = object()  # what the platform's reply takes; ask passes it on as is

    @on_command("pick")
    async def pick(event: TextEvent) -> None:
        await ask("With buttons", keyboard=keyboard)
        await ask("Without")

    async with TestHost(flows=[pick]) as th:
        first = MemoryEvent("/pick")
        await th.emit(first)
        assert first.reply_options == [{"keyboard": keyboard}]
        second = MemoryEvent("a")
        await th.emit(second)
        assert second.replies == ["Without"]
        assert second.reply_options == [{}]


def test_every_end_notice_has_a_russian_translation() -> None:
    from botrt.i18n import core_translator

    russian = core_translator("ru")
    notices = [c.notice for c in (ConversationEnded, ConversationTimeout, ConversationCancelled)]
    assert len(set(notices)) == 3
    for notice in notices:
        assert russian.gettext(notice) != notice
        assert core_translator("en").gettext(notice) == notice


async def test_answered_asks_do_not_pile_up_in_the_timeout_queue() -> None:
    clock = ManualClock(START)
    async with TestHost(flows=[quiz], clock=clock) as th:
        dialogues = th.dispatcher.dialogues
        await th.send("/quiz", user_id=9999)  # one keeps waiting: the sweeper stays
        for user in range(300):
            await th.send("/quiz", user_id=user)
            assert await th.send("4", user_id=user) == ["Right!"]
        assert list(dialogues.waiting) == [("memory", 9999, 9999)]
        # The one that never answers is the queue's head: the answered ones behind it
        # are dropped in bulk, not one by one at the head.
        assert len(dialogues._deadlines) <= 64 + 2


async def test_the_first_message_keeps_its_own_replies() -> None:
    @on_command("signup")
    async def signup(event: TextEvent) -> None:
        name = await ask("Your name?")
        await event.reply(f"Hi, {name.text}")

    async with TestHost(flows=[signup]) as th:
        first = MemoryEvent("/signup")
        assert await th.emit(first) == ["Your name?"]
        assert await th.send("Ann") == ["Hi, Ann"]
        assert first.replies == ["Your name?", "Hi, Ann"]
        assert type(first.replies) is list


async def test_asks_time_out_in_deadline_order_across_timeouts_and_answers() -> None:
    clock = ManualClock(START)

    @on_command("ask")
    async def asking(event: TextEvent) -> None:
        await ask("?", timeout=float(event.text.split()[1]))

    def at(seconds: int) -> dt.datetime:
        return START + dt.timedelta(seconds=seconds)

    async with TestHost(flows=[asking], clock=clock) as th:
        waiting = th.dispatcher.dialogues.waiting
        answered = MemoryEvent("/ask 10", user_id=1)  # due at 10, answered at 6
        await th.emit(answered)
        clock.advance(at(3))
        second = MemoryEvent("/ask 10", user_id=2)  # due at 13
        await th.emit(second)
        clock.advance(at(5))
        third = MemoryEvent("/ask 10", user_id=3)  # due at 15
        await th.emit(third)
        clock.advance(at(6))
        assert await th.send("yes", user_id=1) == []
        shorter = MemoryEvent("/ask 4", user_id=4)  # due at 10: another timeout's queue
        await th.emit(shorter)
        clock.advance(at(10))
        await th.settle()
        assert sorted(key[2] for key in waiting) == [2, 3]
        assert shorter.replies[1:] == ["The conversation ended: no answer came in time."]
        assert answered.replies == ["?"]
        clock.advance(at(12))
        await th.settle()
        assert sorted(key[2] for key in waiting) == [2, 3]
        clock.advance(at(13))
        await th.settle()
        assert sorted(key[2] for key in waiting) == [3]
        assert second.replies[1:] == ["The conversation ended: no answer came in time."]
        clock.advance(at(15))
        await th.settle()
        assert waiting == {}
        assert third.replies[1:] == ["The conversation ended: no answer came in time."]
        await clock.wait_sleeping(0)  # nothing waits: the sweeper ended
        assert len(th.dispatcher.dialogues._deadlines) == 0


async def test_a_timeout_that_never_ends_keeps_no_deadline() -> None:
    clock = ManualClock(START)

    @on_command("ask")
    async def forever(event: TextEvent) -> None:
        await ask("?", timeout=float("inf"))

    async with TestHost(flows=[forever], clock=clock) as th:
        assert await th.send("/ask") == ["?"]
        clock.advance(START + dt.timedelta(days=3650))
        await th.settle()
        assert len(th.dispatcher.dialogues.waiting) == 1
        assert len(th.dispatcher.dialogues._deadlines) == 0


async def test_a_run_that_asks_again_once_the_test_host_closes_ends_at_once() -> None:
    ends: list[str] = []

    @on_command("stubborn")
    async def stubborn(event: TextEvent) -> None:
        try:
            await ask("?")
        except ConversationEnded:
            ends.append("first")
            try:
                await ask("still there?")
            except ConversationEnded:
                ends.append("second")
                raise

    waiting = MemoryEvent("/stubborn", user_id=4)
    async with TestHost(flows=[stubborn]) as th:
        await th.emit(waiting)
    assert ends == ["first", "second"]
    assert waiting.replies[:2] == ["?", "still there?"]


async def test_the_sweeper_ends_once_the_last_waiting_ask_is_answered() -> None:
    clock = ManualClock(START)
    async with TestHost(flows=[quiz], clock=clock) as th:
        assert await th.send("/quiz") == ["What is 2+2?"]
        await clock.wait_sleeping(1)
        assert await th.send("4") == ["Right!"]
        await clock.wait_sleeping(0)  # the run ended without asking again
        assert len(th.dispatcher.dialogues._deadlines) == 0


async def test_a_clock_swapped_while_asks_wait_keeps_their_time_left() -> None:
    # Deadlines are counted on the clock in use; a new clock object (a test swaps it)
    # rebases the waiting ones, each keeping the time it had left.
    first_clock, later = ManualClock(START), dt.datetime(2027, 6, 1, tzinfo=dt.UTC)

    @on_command("ask")
    async def asking(event: TextEvent) -> None:
        await ask("?", timeout=30)

    async with TestHost(flows=[asking], clock=first_clock) as th:
        early = MemoryEvent("/ask", user_id=1)
        await th.emit(early)
        first_clock.advance(START + dt.timedelta(seconds=10))
        th.host.info.clock = second_clock = ManualClock(later)
        late = MemoryEvent("/ask", user_id=2)
        await th.emit(late)  # the next ask moves the deadlines to the new clock
        await second_clock.wait_sleeping(1)  # the sweeper sleeps on it now
        second_clock.advance(later + dt.timedelta(seconds=19))
        await th.settle()
        assert early.replies == ["?"]  # 20 s were left of its 30
        second_clock.advance(later + dt.timedelta(seconds=20))
        await th.settle()
        assert early.replies == ["?", "The conversation ended: no answer came in time."]
        assert late.replies == ["?"]
        second_clock.advance(later + dt.timedelta(seconds=30))
        await th.settle()
        assert late.replies == ["?", "The conversation ended: no answer came in time."]
        assert th.dispatcher.dialogues.waiting == {}


async def test_settle_returns_once_a_run_that_timed_out_asks_again() -> None:
    # A run in a task of its own (TestHost) that asks again after its timeout waits
    # again; `settle` must see that and return rather than wait for the run to end.
    clock = ManualClock(START)

    @on_command("retry")
    async def retry(event: TextEvent) -> None:
        try:
            await ask("first?", timeout=30)
        except ConversationTimeout:
            answer = await ask("second?", timeout=30)
            await answer.reply(f"got {answer.text}")

    async with TestHost(flows=[retry], clock=clock) as th:
        first = MemoryEvent("/retry", user_id=1)
        await th.emit(first)
        clock.advance(START + dt.timedelta(seconds=31))
        with anyio.fail_after(10):
            await th.settle()
        assert first.replies == ["first?", "second?"]
        assert await th.send("yes") == ["got yes"]
