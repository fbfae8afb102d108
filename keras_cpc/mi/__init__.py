"""keras_cpc.mi"""
