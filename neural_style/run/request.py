"""One place that turns what a front end was asked (a base `StyleConfig` and `WatchOptions`, keyword options, the
images given) into what every run starts from: the configuration, the watch options and the resolved hardware. Used
by `stylize`, `stylize_video` and `stylize_batch`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Dict, Optional

from neural_style.config import (StyleConfig, WatchOptions, build_config, build_watch, check_settings_read,
                                 split_options, validate)
from neural_style.backends.hardware import Hardware, resolve_hardware


@dataclass(frozen=True)
class Request:
    """What was asked, resolved once: the configuration, the watch options, and where and how it computes."""

    config: StyleConfig
    watch: WatchOptions

    @cached_property
    def hardware(self) -> Hardware:
        """The device, precision and XLA for the configuration, resolved when first asked (a batch sent to a Ray
        cluster resolves it on the cluster's machines, not here)."""
        return resolve_hardware(self.config)


def resolve_request(options: Dict[str, Any], config: Optional[StyleConfig] = None,
                    watch: Optional[WatchOptions] = None, *, check: bool = True, **given: Any) -> Request:
    """`config` (or the defaults), then `options['preset']`'s values, then the images `given` (None: not given) and
    the other options, each to the `StyleConfig` or `WatchOptions` field of its name; validated (the configuration
    only where `check`: a batch checks each job's), settings the run would ignore refused."""
    style_options, watch_options = split_options(options)
    config = build_config(config, style_options.pop("preset", None),
                          **{name: value for name, value in given.items() if value is not None}, **style_options)
    if check:
        validate(config)
        check_settings_read(config, [name for name, value in style_options.items() if value is not None])
    watch = build_watch(watch, **watch_options)
    return Request(config, watch)


__all__ = ["Request", "resolve_request"]
