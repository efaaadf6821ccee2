#!/usr/bin/env bash
# Regenerates the small media fixtures in test/fixtures with ffmpeg (apt-get install ffmpeg).
# Each audio file is a 1-second 440 Hz tone; the tests know their rates and channel counts.
# The fixtures are committed, so neither CI nor the tests need ffmpeg.
set -euo pipefail
cd "$(dirname "$0")/../test/fixtures"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
tone() { echo "sine=frequency=440:sample_rate=$1:duration=1"; }

ff -f lavfi -i "$(tone 44100)" -ac 1 -c:a flac tone.flac
ff -f lavfi -i "$(tone 44100)" -ac 1 -c:a libmp3lame -b:a 32k tone.mp3
ff -f lavfi -i "$(tone 22050)" -ac 1 -c:a pcm_s16le tone.wav
ff -f lavfi -i "$(tone 22050)" -ac 2 -c:a pcm_s16be tone.aiff
ff -f lavfi -i "$(tone 44100)" -ac 2 -c:a libvorbis -q:a 0 tone.ogg
ff -f lavfi -i "$(tone 48000)" -ac 1 -c:a libopus -b:a 16k tone.opus
# Stereo: music-metadata reads the channel count from the MP4 sample entry, which
# ffmpeg writes as 2 even for mono AAC.
ff -f lavfi -i "$(tone 44100)" -ac 2 -c:a aac -b:a 48k tone.m4a
# As browsers record: WebM/Opus written as a live stream (no duration, no cues), as Chromium's
# and Firefox's MediaRecorder do; fragmented MP4/AAC (an empty moov, then moof+mdat pairs), as
# Safari's does.
ff -f lavfi -i "$(tone 48000)" -ac 1 -c:a libopus -b:a 16k -live 1 -cluster_time_limit 250 -f webm pipe:1 > recorded.webm
ff -f lavfi -i "$(tone 48000)" -ac 2 -c:a aac -b:a 48k -movflags frag_keyframe+empty_moov+default_base_moof -frag_duration 250000 -f mp4 pipe:1 > recorded.mp4
# chromium-recorded.webm and chromium-recorded.mp4 are not made here: they are 3 s of espeak-ng
# speech recorded by Chromium 156's own MediaRecorder (audio/webm;codecs=opus, audio/mp4) through
# its fake microphone, as the browser test does; ffmpeg decodes 3.00 s from each.
ff -f lavfi -i testsrc=size=64x48:rate=1 -frames:v 1 cover.jpg
ff -f lavfi -i testsrc=size=80x60:rate=1 -frames:v 1 cover.png
ff -f lavfi -i testsrc=size=32x24:rate=1 -frames:v 1 cover.gif
head -c 4096 /dev/urandom > not-audio.bin
printf 'This is a text file, not audio.\n%.0s' {1..50} > not-audio.txt
head -c 200 tone.flac > truncated.flac
ls -l
