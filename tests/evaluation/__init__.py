"""Tests of closp_demo.evaluation."""
