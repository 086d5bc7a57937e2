"""Control input is checked against Telnyx's limits before anything is sent."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from console.web import fields, forms
from console.web.fields import Invalid


@pytest.mark.parametrize(
    "parser, raw, expected",
    [
        (fields.dtmf_digits, "1234#", "1234#"),
        (fields.dtmf_digits, "0123456789ABCD*#", "0123456789ABCD*#"),
        (fields.dtmf_digits, "1w2W3", "1w2W3"),
        (fields.whole_number(2, 800), "2", 2),
        (fields.whole_number(2, 800), "800", 800),
        (fields.whole_number(2, 800), "+250", 250),
        (fields.whole_number(100, 500), "100", 100),
        (fields.whole_number(1), "999999", 999999),
        (fields.loop_count, "1", 1),
        (fields.loop_count, "100", 100),
        (fields.loop_count, "infinity", "infinity"),
        (fields.loop_count, "Infinity", "infinity"),
        (fields.text(1, 40), "a", "a"),
        (fields.text(1, 40), "x" * 40, "x" * 40),
        (fields.text(1, 255), "q" * 255, "q" * 255),
        (fields.text(1, 3000), "s" * 3000, "s" * 3000),
        (fields.choice(fields.SPEAK_LANGUAGES), "en-GB-WLS", "en-GB-WLS"),
        (fields.choice(fields.BEEP_OPTIONS), "on_exit", "on_exit"),
        (fields.audio_url, "https://example.com/hold.wav", "https://example.com/hold.wav"),
        (fields.audio_url, "http://127.0.0.1:9/a.mp3", "http://127.0.0.1:9/a.mp3"),
        (fields.uuid_text, "3FA85F64-5717-4562-B3FC-2C963F66AFA6", "3fa85f64-5717-4562-b3fc-2c963f66afa6"),
        (fields.flag, "true", True),
        (fields.flag, "on", True),
        (fields.flag, "false", False),
        (fields.terminating_digit, "#", "#"),
        (fields.digit_set, "0123456789*#", "0123456789*#"),
    ],
)
def test_parser_accepts(parser, raw, expected):
    assert parser(raw) == expected


@pytest.mark.parametrize(
    "parser, raw, words",
    [
        (fields.dtmf_digits, "12x", "not x"),
        (fields.dtmf_digits, "1 2", "0-9"),
        (fields.dtmf_digits, "abcd", "not a b c d"),
        (fields.dtmf_digits, "wW", "at least one digit"),
        (fields.whole_number(2, 800), "1", "from 2 to 800"),
        (fields.whole_number(2, 800), "801", "from 2 to 800"),
        (fields.whole_number(2, 800), "2.5", "whole number"),
        (fields.whole_number(2, 800), "ten", "whole number"),
        (fields.whole_number(100, 500), "99", "from 100 to 500"),
        (fields.whole_number(100, 500), "501", "from 100 to 500"),
        (fields.whole_number(1), "0", "at least 1"),
        (fields.whole_number(1), "-3", "at least 1"),
        (fields.loop_count, "0", "1 to 100, or infinity"),
        (fields.loop_count, "101", "1 to 100, or infinity"),
        (fields.loop_count, "forever", "1 to 100, or infinity"),
        (fields.text(1, 40), "x" * 41, "at most 40"),
        (fields.text(1, 255), "q" * 256, "at most 255"),
        (fields.text(1, 3000), "s" * 3001, "at most 3000"),
        (fields.choice(fields.SPEAK_LANGUAGES), "en-us", "Choose one of"),
        (fields.choice(fields.BEEP_OPTIONS), "sometimes", "Choose one of"),
        (fields.audio_url, "ftp://example.com/a.wav", "http"),
        (fields.audio_url, "example.com/a.wav", "http"),
        (fields.audio_url, "https://", "http"),
        (fields.uuid_text, "not-a-uuid", "recording id"),
        (fields.flag, "maybe", "yes or no"),
        (fields.terminating_digit, "##", "one key"),
        (fields.terminating_digit, "w", "one key"),
        (fields.digit_set, "12w", "not w"),
    ],
)
def test_parser_refuses(parser, raw, words):
    with pytest.raises(Invalid) as refused:
        parser(raw)
    assert words in str(refused.value)


def test_speak_languages_are_the_spec_enum():
    assert len(fields.SPEAK_LANGUAGES) == 29
    assert len(set(fields.SPEAK_LANGUAGES)) == 29
    assert {"arb", "cmn-CN", "en-US", "tr-TR"} <= set(fields.SPEAK_LANGUAGES)


def submit(form_class, **fields):
    """Validate a form built from keyword fields (lists become repeated values)."""
    pairs = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, item))
    form = form_class(MultiDict(pairs))
    form.validate()
    return form


@pytest.mark.parametrize(
    "form_class, fields, expected",
    [
        (forms.CreateConferenceForm, {"name": "Escalations", "max_participants": "3", "beep_enabled": "on_enter",
                                      "duration_minutes": "30", "start_conference_on_create": ["false", "true"],
                                      "hold_audio_url": "https://example.com/h.wav"},
         {"name": "Escalations", "max_participants": 3, "beep_enabled": "on_enter", "duration_minutes": 30,
          "start_conference_on_create": True, "hold_audio_url": "https://example.com/h.wav"}),
        (forms.CreateConferenceForm, {"name": "Quiet", "start_conference_on_create": "false"},
         {"name": "Quiet", "start_conference_on_create": False}),
        (forms.TargetedForm, {"target": "all", "call_control_ids": ["v3:a"]}, {}),
        (forms.TargetedForm, {"target": "selected", "call_control_ids": ["v3:a", "v3:b", "v3:a"]},
         {"call_control_ids": ["v3:a", "v3:b"]}),
        (forms.HoldForm, {"target": "all", "audio_url": "https://example.com/m.mp3"},
         {"audio_url": "https://example.com/m.mp3"}),
        (forms.PlayForm, {"media_name": "welcome", "loop": "infinity", "target": "all"}, {"media_name": "welcome", "loop": "infinity"}),
        (forms.SpeakForm, {"payload": "Hello", "voice": "female", "language": "de-DE", "payload_type": "text",
                           "target": "all"},
         {"payload": "Hello", "voice": "female", "language": "de-DE", "payload_type": "text"}),
        (forms.SpeakForm, {"payload": "<speak>Hi <break time='1s'/></speak>", "voice": "male", "payload_type": "ssml",
                           "target": "all"},
         {"payload": "<speak>Hi <break time='1s'/></speak>", "voice": "male", "payload_type": "ssml"}),
        (forms.SendDtmfForm, {"digits": "12#", "duration_millis": "250", "target": "selected",
                              "call_control_ids": "v3:a"},
         {"digits": "12#", "duration_millis": 250, "call_control_ids": ["v3:a"]}),
        (forms.GatherForm, {"audio_url": "https://example.com/p.wav", "minimum_digits": "2", "maximum_digits": "4",
                            "terminating_digit": "#", "valid_digits": "123#"},
         {"audio_url": "https://example.com/p.wav", "minimum_digits": 2, "maximum_digits": 4,
          "terminating_digit": "#", "valid_digits": "123#"}),
        (forms.JoinForm, {"call_control_id": "v3:x", "mute": ["false", "true"], "supervisor_role": "whisper",
                          "whisper_call_control_ids": ["v3:agent"]},
         {"call_control_id": "v3:x", "mute": True, "supervisor_role": "whisper",
          "whisper_call_control_ids": ["v3:agent"]}),
        (forms.RoleForm, {"supervisor_role": "monitor", "whisper_call_control_ids": "v3:agent"},
         {"supervisor_role": "monitor"}),
        (forms.ParticipantSettingsForm, {"beep_enabled": "never", "end_conference_on_exit": "true",
                                         "soft_end_conference_on_exit": "false"},
         {"beep_enabled": "never", "end_conference_on_exit": True, "soft_end_conference_on_exit": False}),
        (forms.RecordStartForm, {"format": "mp3", "channels": "dual", "trim": "trim-silence", "play_beep": "true",
                                 "custom_file_name": "escalation-42"},
         {"format": "mp3", "channels": "dual", "trim": "trim-silence", "play_beep": True,
          "custom_file_name": "escalation-42"}),
        (forms.RecordingForm, {"recording_id": ""}, {}),
        (forms.CreateQueueForm, {"queue_name": "support", "max_size": "1"}, {"queue_name": "support", "max_size": 1}),
        (forms.QueueSizeForm, {"max_size": "25"}, {"max_size": 25}),
        (forms.QueuedCallForm, {"keep_after_hangup": ["false", "true"]}, {"keep_after_hangup": True}),
        (forms.EnqueueForm, {"queue_name": "sales", "max_wait_time_secs": "600", "keep_after_hangup": "false"},
         {"queue_name": "sales", "max_wait_time_secs": 600, "keep_after_hangup": False}),
    ],
)
def test_form_accepts(form_class, fields, expected):
    form = submit(form_class, **fields)
    assert form.errors == {}
    assert form.data == expected


@pytest.mark.parametrize(
    "form_class, fields, field, words",
    [
        (forms.CreateConferenceForm, {"name": ""}, "name", "required"),
        (forms.CreateConferenceForm, {"name": "x", "max_participants": "801"}, "max_participants", "2 to 800"),
        (forms.CreateConferenceForm, {"name": "x", "max_participants": "1"}, "max_participants", "2 to 800"),
        (forms.CreateConferenceForm, {"name": "x", "hold_audio_url": "https://e.com/a.wav", "hold_media_name": "m"},
         "hold_media_name", "not both"),
        (forms.TargetedForm, {}, "target", "Choose who this goes to"),
        (forms.TargetedForm, {"target": "selected"}, "call_control_ids", "Tick at least one"),
        (forms.HoldForm, {"audio_url": "nope"}, "audio_url", "http"),
        (forms.PlayForm, {"loop": "3"}, "audio_url", "audio URL or a media name"),
        (forms.PlayForm, {"media_name": "m", "loop": "0"}, "loop", "1 to 100"),
        (forms.SpeakForm, {"payload": "x" * 3001, "voice": "female"}, "payload", "at most 3000"),
        (forms.SpeakForm, {"payload": "Hi", "voice": ""}, "voice", "required"),
        (forms.SpeakForm, {"payload": "Hi", "voice": "female", "language": "xx-XX"}, "language", "Choose one of"),
        (forms.SpeakForm, {"payload": "<speak>Hi", "voice": "female", "payload_type": "ssml"}, "payload",
         "well-formed"),
        (forms.SpeakForm, {"payload": "<p>Hi</p>", "voice": "female", "payload_type": "ssml"}, "payload", "<speak>"),
        (forms.SendDtmfForm, {"digits": "12E"}, "digits", "0-9"),
        (forms.SendDtmfForm, {"digits": "1", "duration_millis": "600"}, "duration_millis", "100 to 500"),
        (forms.SendDtmfForm, {"digits": ""}, "digits", "required"),
        (forms.GatherForm, {"minimum_digits": "2"}, "audio_url", "audio URL or a media name"),
        (forms.GatherForm, {"media_name": "p", "minimum_digits": "5", "maximum_digits": "3"}, "maximum_digits",
         "less than minimum"),
        (forms.GatherForm, {"media_name": "p", "gather_id": "g" * 101}, "gather_id", "at most 100"),
        (forms.JoinForm, {"call_control_id": ""}, "call_control_id", "required"),
        (forms.JoinForm, {"call_control_id": "v3:x", "supervisor_role": "whisper"}, "whisper_call_control_ids",
         "hear the whisper"),
        (forms.RoleForm, {"supervisor_role": "boss"}, "supervisor_role", "Choose one of"),
        (forms.ParticipantSettingsForm, {}, "beep_enabled", "at least one"),
        (forms.RecordStartForm, {"format": "ogg"}, "format", "Choose one of"),
        (forms.RecordStartForm, {"format": "wav", "custom_file_name": "f" * 41}, "custom_file_name", "at most 40"),
        (forms.RecordStartForm, {"format": "wav", "trim": "trim"}, "trim", "Choose one of"),
        (forms.RecordingForm, {"recording_id": "42"}, "recording_id", "recording id"),
        (forms.CreateQueueForm, {"queue_name": "q" * 256}, "queue_name", "at most 255"),
        (forms.CreateQueueForm, {"queue_name": "support", "max_size": "0"}, "max_size", "at least 1"),
        (forms.QueueSizeForm, {"max_size": ""}, "max_size", "required"),
        (forms.QueuedCallForm, {}, "keep_after_hangup", "required"),
        (forms.EnqueueForm, {"queue_name": ""}, "queue_name", "required"),
        (forms.EnqueueForm, {"queue_name": "sales", "max_size": "-1"}, "max_size", "at least 1"),
    ],
)
def test_form_refuses(form_class, fields, field, words):
    form = submit(form_class, **fields)
    assert field in form.errors
    assert words in form.errors[field]


def test_refused_form_keeps_what_was_typed():
    form = submit(forms.SendDtmfForm, digits="12E", duration_millis="250")
    assert not form.validate()
    assert form.value("digits") == "12E"
    assert form.value("duration_millis") == "250"


def test_checkbox_reads_the_last_value_so_a_hidden_false_can_precede_it():
    assert submit(forms.QueuedCallForm, keep_after_hangup=["false"]).checked("keep_after_hangup") is False
    assert submit(forms.QueuedCallForm, keep_after_hangup=["false", "true"]).checked("keep_after_hangup") is True
    assert forms.QueuedCallForm(MultiDict()).checked("keep_after_hangup", default=True) is True


def test_confirm_form_runs_nothing_until_confirmed():
    assert not submit(forms.ConfirmForm).confirmed
    assert submit(forms.ConfirmForm, confirmed="yes").confirmed
