import pytest

from utils import finetune as ft
from utils import hardware, hosting
from utils.errors import BadInputError


def test_hosting_and_fine_tuning_read_one_description_of_a_gpu():
    """Week 4's serving table and week 7's training plan take the same GPU object and the same usable share."""
    t4 = hardware.GPUS["T4"]
    assert hosting.gpus_needed(t4.memory_gb * hardware.USABLE_MEMORY, t4) == 1
    assert hosting.gpus_needed(t4.memory_gb * hardware.USABLE_MEMORY + 0.1, t4) == 2
    plan = ft.plan_training(t4, params_b=1.0)
    assert plan.memory_gb <= hardware.USABLE_MEMORY * t4.memory_gb and plan.compute_dtype == "float16"


def test_colab_t4_agrees_with_the_data_sheet_t4():
    """The T4 torch reports in Colab is the data sheet's card less what the driver keeps (GiB, not GB)."""
    sheet, colab = hardware.GPUS["T4"], hardware.COLAB_T4
    assert colab.bf16 == sheet.bf16 is False and colab.bandwidth_gb_s == sheet.bandwidth_gb_s
    assert 0.9 * sheet.memory_gb * 1e9 / 1024**3 < colab.memory_gb < sheet.memory_gb * 1e9 / 1024**3


def test_training_weights_start_from_the_serving_bytes_per_weight():
    assert ft.WEIGHT_BYTES["16-bit"] == hardware.BYTES_PER_WEIGHT["bf16"]
    assert ft.WEIGHT_BYTES["4-bit"] > hardware.BYTES_PER_WEIGHT["4-bit"]  # scales and 16-bit layers on top of NF4


def test_a_gpu_described_without_bandwidth_gets_a_clear_error():
    gpu = hardware.GPU("NVIDIA L4", 22.0, True)  # as torch reports it: no bandwidth
    with pytest.raises(BadInputError, match="no memory bandwidth"):
        hosting.decode_tokens_per_s(8.0, "bf16", 0, 1, 1, gpu)
