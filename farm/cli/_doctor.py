"""`farm doctor`: what this machine offers the farm (CUDA, NVDEC per codec, NVENC, encoders, text
shaping and fonts), and why."""

from __future__ import annotations

import argparse


def add_doctor(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="the decoders, encoders and GPU this machine offers, and which a render uses")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_doctor)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from farm.cli._output import print_json
    from farm.media import machine_report

    report = machine_report()
    report["text"] = text_report()
    if args.json:
        print_json(report)
        return 0
    cuda = report["cuda"]
    print(f"machine:  {report['machine']}; PyAV {report['pyav']} (FFmpeg {report['ffmpeg']}), torch {report['torch']}")
    print(f"CUDA:     {cuda.get('device') if cuda['available'] else 'no: ' + cuda['why']}")
    nvc = report["pynvvideocodec"]
    print(f"PyNvVideoCodec: {nvc['version'] if nvc['loaded'] else 'no: ' + nvc['why']}")
    nvdec = report["nvdec"]
    if "why" in nvdec:
        print(f"NVDEC:    no: {nvdec['why']}")
    else:
        print("NVDEC:    " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in nvdec.items()))
    for name, entry in report["nvenc"].items():
        print(f"NVENC ({name}): {'yes' if entry['opens'] else 'no'}: {entry['why']}")
    print("encoders: " + ", ".join(k for k, v in report["encoders_in_pyav"].items() if v))
    chosen = report["chosen"]
    if "error" in chosen:
        print(f"a render here: cannot start: {chosen['error']}")
    else:
        print(f"a render here: decodes with {chosen['decoder']}, composes on the {chosen['compose']}, "
              f"encodes with {chosen['encoder']}")
    text = report["text"]
    print(f"text:     shaping {'libraqm' if text['raqm'] else 'basic (no libraqm)'}: {text['shaping']}")
    print(f"fonts:    title {' > '.join(text['title_fonts'])}; body {' > '.join(text['body_fonts'])}")
    print(f"emoji:    {text['emoji']}")
    return 0


def text_report() -> dict:
    """How text is drawn here: shaping (libraqm or basic, with the reason), the font chains, emoji."""
    from farm.render import emoji_font_path, font_chain, shaping

    raqm, why = shaping()
    emoji = emoji_font_path()
    try:
        font_chain("title")
    except (ImportError, RuntimeError) as err:  # a font package missing: say so, do not fail the doctor
        return {"raqm": raqm, "shaping": why, "title_fonts": [f"missing ({err})"], "body_fonts": [],
                "emoji": str(emoji) if emoji else "none"}
    return {"raqm": raqm, "shaping": why, "title_fonts": [f.name for f in font_chain("title")],
            "body_fonts": [f.name for f in font_chain("body")],
            "emoji": str(emoji) if emoji else "no emoji font on this machine: emoji are left out of on-screen text"}
