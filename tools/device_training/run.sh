#!/bin/bash
# The command for the device tool (`run`, carrying the packed data): unpack, train two variants
# side by side for SECONDS, bring back their weights and logs under $OUT (at most 8 files).
#   PACKED=.gpu/data SECONDS_=465 bash tools/device_training/run.sh
set -u
here=tools/device_training
nvidia-smi -L
mkdir -p /tmp/logs
python3 $here/unpack_data.py "$PACKED" /tmp/data > /tmp/logs/unpack.log 2>&1 \
    || { tail -20 /tmp/logs/unpack.log; exit 1; }
export PYTHONUNBUFFERED=1
limit=$(python3 -c "print(int($SECONDS_) + 30)")
(timeout "$limit" python3 $here/train_for.py /tmp/data /tmp/runA --seconds "$SECONDS_" \
    > /tmp/logs/A.log 2>&1) &
(timeout "$limit" python3 $here/train_for.py /tmp/data /tmp/runB --seconds "$SECONDS_" --adversarial \
    > /tmp/logs/B.log 2>&1) &
wait
for run in A B; do
    mkdir -p "$OUT/$run" "/tmp/logs/$run"
    cp /tmp/run$run/checkpoint/*.safetensors "$OUT/$run/" 2>/dev/null
    cp /tmp/run$run/checkpoint/*.json /tmp/run$run/log.jsonl "/tmp/logs/$run/" 2>/dev/null
done
tar -C /tmp -cf "$OUT/logs.tar" logs
tail -3 /tmp/logs/A.log /tmp/logs/B.log
