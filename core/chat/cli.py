"""`finetune-studio chat`: a terminal conversation with a base model or a fine-tuned run.

Prompts are read from standard input, one a line; each answer streams to standard output
as it is generated, followed by an empty line. End with /exit or end of input (Ctrl+D).
/reset starts the conversation over. Loading messages go to standard error.
"""

from __future__ import annotations

import argparse
import sys

from core.chat.generation import (
    ChatSettings,
    ChatSettingsError,
    conversation_messages,
    generate_reply,
    load_chat_model,
)
from core.errors import EXIT_ERRORS, EXIT_OK, EXIT_USAGE
from core.evaluation.models import ModelSpecError, baseline_spec, run_spec
from core.models.bundled import BundledModelMissing
from core.models.registry import ModelFolderError, resolve_model


def register(subparsers) -> None:
    help_of = {n: f.metadata["help"] for n, f in ChatSettings.__dataclass_fields__.items()}
    defaults = ChatSettings()
    parser = subparsers.add_parser(
        "chat",
        help="chat with a base model or a fine-tuned run in the terminal",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model", required=True, help="base model folder, or the bundled model's name"
    )
    parser.add_argument(
        "--adapter",
        metavar="RUN",
        help="a training run folder (or adapter or full model folder) to chat with",
    )
    parser.add_argument("--system", default="", metavar="TEXT", help=help_of["system_prompt"])
    parser.add_argument(
        "--temperature", type=float, default=defaults.temperature, help=help_of["temperature"]
    )
    parser.add_argument("--top-p", type=float, default=defaults.top_p, help=help_of["top_p"])
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=defaults.max_new_tokens,
        help=help_of["max_new_tokens"],
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help=help_of["seed"])
    parser.set_defaults(func=run_chat_command)


def run_chat_command(args: argparse.Namespace) -> int:
    try:
        settings = ChatSettings(
            system_prompt=args.system,
            temperature=args.temperature,
            top_p=args.top_p,
            max_new_tokens=args.max_new_tokens,
            seed=args.seed,
        )
        base = resolve_model(args.model)
        spec = (
            run_spec(args.adapter, base_model=base.path)
            if args.adapter
            else baseline_spec(base.path)
        )
    except (ChatSettingsError, ModelFolderError, ModelSpecError, BundledModelMissing) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Loading {spec.label}…", file=sys.stderr, flush=True)
    try:
        loaded = load_chat_model(spec)
    except (OSError, ValueError) as error:
        print(f"error: could not load {spec.label}: {error}", file=sys.stderr)
        return EXIT_ERRORS
    interactive = sys.stdin.isatty()
    print(
        f"Chatting with {spec.label} on {loaded.device}. Type a message and press Enter; "
        "/reset starts over, /exit or Ctrl+D ends.",
        file=sys.stderr,
        flush=True,
    )
    history: list[tuple[str, str]] = []
    while True:
        if interactive:
            print("you> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            break
        prompt = line.strip()
        if prompt == "/exit":
            break
        if prompt == "/reset":
            history.clear()
            print("(conversation cleared)", file=sys.stderr, flush=True)
            continue
        if not prompt:
            continue
        messages = conversation_messages(settings.system_prompt, history, prompt)

        def show(piece: str) -> None:
            sys.stdout.write(piece)
            sys.stdout.flush()

        try:
            reply = generate_reply(loaded, messages, settings, on_text=show)
        except KeyboardInterrupt:
            print("\n(stopped)", file=sys.stderr)
            continue
        sys.stdout.write("\n\n")
        sys.stdout.flush()
        print(
            f"[{reply.n_tokens} tokens, {reply.tokens_per_second:.1f} tokens/s]",
            file=sys.stderr,
            flush=True,
        )
        history.append((prompt, reply.text))
    return EXIT_OK
