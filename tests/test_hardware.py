import pytest

from utils import hardware, hosting, training_plan
from utils.errors import BadInputError

pytestmark = pytest.mark.unit


def test_hosting_and_fine_tuning_read_one_description_of_a_gpu():
    """Week 4's serving table and week 7's training plan take the same GPU object and the same usable share."""
    t4 = hardware.GPUS["T4"]
    assert hosting.gpus_needed(t4.memory_gb * hardware.USABLE_MEMORY, t4) == 1
    assert hosting.gpus_needed(t4.memory_gb * hardware.USABLE_MEMORY + 0.1, t4) == 2
    plan = training_plan.plan_training(t4, params_b=1.0)
    assert plan.memory_gb <= hardware.USABLE_MEMORY * t4.memory_gb and plan.compute_dtype == "float16"


def test_colab_t4_agrees_with_the_data_sheet_t4():
    """The T4 torch reports in Colab is the data sheet's card less what the driver keeps (GiB, not GB)."""
    sheet, colab = hardware.GPUS["T4"], hardware.COLAB_T4
    assert colab.bf16 == sheet.bf16 is False and colab.bandwidth_gb_s == sheet.bandwidth_gb_s
    assert 0.9 * sheet.memory_gb * 1e9 / 1024**3 < colab.memory_gb < sheet.memory_gb * 1e9 / 1024**3


@pytest.mark.parametrize(("mode", "measured_gib"), [("16-bit", 39), ("4-bit", 43), ("4-bit + checkpointing", 13)])
def test_the_memory_estimate_reproduces_the_h100_run_it_was_fitted_to(mode, measured_gib):
    """Llama 3.1 8B, LoRA r=32, batch 16 x 182 tokens on one H100 (benchmarks/README.md): within 10% in each mode."""
    estimate_gb = training_plan.memory_needed_gb(8.03, mode, 16 * training_plan.ITEM_TOKENS)
    assert estimate_gb == pytest.approx(measured_gib * 1024**3 / 1e9, rel=0.10)


def test_a_gpu_described_without_bandwidth_gets_a_clear_error():
    gpu = hardware.GPU("NVIDIA L4", 22.0, True)  # as torch reports it: no bandwidth
    with pytest.raises(BadInputError, match="no memory bandwidth"):
        hosting.decode_tokens_per_s(8.0, "bf16", 0, 1, 1, gpu)
