"""Every file a run folder holds, each with the one module that writes and reads it.

    <root>/<run>/
        config.json              config_json.py   the resolved training config, the model spec, dataset facts
        metrics.jsonl            metrics_jsonl.py one JSON record per --log-every window, and quality records
        samples/epoch_0001.png   core/runs.py     fixed-latent grids (also ema_epoch_…, step_…, ema_step_…),
                                                  PNG written by core/images.py
        last.pt, step_0001000.pt gan/checkpoint.py newest and periodic checkpoints (torch; names in core/runs.py)
        eval.json                eval_json.py     python -m evaluation.evaluate's report
        quality_curve.jsonl      eval_json.py     python -m evaluation.evaluate --curve: one line per checkpoint
        nearest.npz              nearest_npz.py   samples beside their nearest training images (memorisation)
        generator*.onnx          export/onnx_export.py writes, inference/runtime.py reads; metadata keys
                                                  from core/spec.py
        generator*.explore.npz   explore_npz.py   latent directions and projection examples of one model
        README.md                export/model_card.py  the model card of the exported generators
        .lock                    core/lock.py     held (flock) by the one process that trains the run
        rewound-from-step-N/     train/run_folder.py   newer work set aside by --resume … --rewind

A run folder may come from anywhere (a download, a colleague, a broken disk): every reader treats
its files as untrusted input (bounded, regular files inside the root, types checked) and turns a
problem into a message about that file. Each format carries a version (`format_version`); a
reader accepts every version written so far.
"""
