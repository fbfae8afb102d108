"""keras_cpc.optimizers"""
