"""Blocks for the four slots; importing this package registers every built-in module."""

from networks.blocks.double_conv import DoubleConv
from networks.blocks.down import MaxPoolDown, StridedConvDown, reduction_cell_down
from networks.blocks.mbconv import MBConvBlock, MBConvLayer, SqueezeExcitation
from networks.blocks.nasnet import NASNetNormalCell, NASNetReductionCell, SeparableConv
from networks.blocks.residual import ResidualBlock
from networks.blocks.skips import AttentionGateSkip, ConcatSkip, NoSkip
from networks.blocks.up import TransposeConvUp, UpsampleConvUp

__all__ = [
    "DoubleConv", "ResidualBlock", "NASNetNormalCell", "NASNetReductionCell", "SeparableConv", "MBConvBlock",
    "MBConvLayer", "SqueezeExcitation", "ConcatSkip", "AttentionGateSkip", "NoSkip", "MaxPoolDown",
    "StridedConvDown", "reduction_cell_down", "TransposeConvUp", "UpsampleConvUp",
]
