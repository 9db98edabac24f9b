"""Data generators and the trainer for the shipped trained example models (DESIGN §11).

``data`` needs only numpy/scipy; ``train`` needs the optional ``train`` extra (torch) and
imports it inside that module only.
"""
