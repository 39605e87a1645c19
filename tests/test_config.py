import pytest

from reenact.config import (
    ConfigError,
    DenseMotionConfig,
    GeneratorConfig,
    HourglassConfig,
    KeypointDetectorConfig,
    MotionModelConfig,
    config_from_dict,
    config_to_dict,
)
from reenact.presets import PRESETS, get_preset


def test_round_trip_through_dict():
    for preset in PRESETS.values():
        data = config_to_dict(preset.config)
        assert config_from_dict(MotionModelConfig, data) == preset.config


def test_unknown_key_names_class_and_key():
    data = config_to_dict(get_preset("tiny-64"))
    data["generator"]["num_bottleneck_block"] = 3
    with pytest.raises(ConfigError, match=r"GeneratorConfig: unknown key\(s\) num_bottleneck_block"):
        config_from_dict(MotionModelConfig, data)


def test_unknown_top_level_key():
    with pytest.raises(ConfigError, match=r"MotionModelConfig: unknown key\(s\) nm_kp"):
        config_from_dict(MotionModelConfig, {"nm_kp": 10})


@pytest.mark.parametrize("build, message", [
    (lambda: MotionModelConfig(num_kp=0), r"MotionModelConfig.num_kp: expected an integer >= 1, got 0"),
    (lambda: MotionModelConfig(image_size=-256), r"MotionModelConfig.image_size: expected an integer >= 8"),
    (lambda: HourglassConfig(block_expansion=-1), r"HourglassConfig.block_expansion: expected an integer >= 1"),
    (lambda: HourglassConfig(num_blocks=0), r"HourglassConfig.num_blocks"),
    (lambda: GeneratorConfig(num_down_blocks=-2), r"GeneratorConfig.num_down_blocks: expected an integer >= 0"),
    (lambda: KeypointDetectorConfig(temperature=0), r"KeypointDetectorConfig.temperature: expected a number > 0"),
    (lambda: KeypointDetectorConfig(scale_factor=0.3), r"KeypointDetectorConfig.scale_factor: expected 1 or 1/n"),
    (lambda: DenseMotionConfig(kp_variance=-0.1), r"DenseMotionConfig.kp_variance"),
    (lambda: MotionModelConfig(align_corners="yes"), r"MotionModelConfig.align_corners: expected true or false"),
    (lambda: MotionModelConfig(num_kp=True), r"MotionModelConfig.num_kp"),
    (lambda: MotionModelConfig(image_size=100), r"MotionModelConfig.image_size: expected a size whose "
                                                r"keypoint_detector input"),
])
def test_bad_values_name_the_key(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_bad_value_from_dict_names_the_key():
    data = config_to_dict(get_preset("tiny-64"))
    data["keypoint_detector"]["hourglass"]["max_features"] = -4
    with pytest.raises(ConfigError, match=r"HourglassConfig.max_features"):
        config_from_dict(MotionModelConfig, data)


def test_unknown_preset_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown preset 'vox-512'; valid presets: vox-256, fast-256"):
        get_preset("vox-512")
