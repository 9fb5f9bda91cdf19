using ResNetTower;

// Usage:
//   ResNetTower compose PREPROCESS.onnx RESNET18.onnx OUTPUT-FOLDER [PROJECTION.bin]
//   ResNetTower features MANIFEST BACKBONE.onnx IMAGE-FOLDER OUTPUT-PREFIX
// compose writes OUTPUT-FOLDER/resnet18-backbone.onnx and, given the projection, OUTPUT-FOLDER/resnet-clip.onnx;
// features writes OUTPUT-PREFIX.f32 (one row of backbone features per image) and OUTPUT-PREFIX.json (each row's file and class).
return args switch
{
    ["compose", var preprocess, var resnet, var output] => Composer.Run(preprocess, resnet, output, null),
    ["compose", var preprocess, var resnet, var output, var projection] => Composer.Run(preprocess, resnet, output, projection),
    ["features", var manifest, var backbone, var images, var output] => FeatureDump.Run(manifest, backbone, images, output),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: ResNetTower compose PREPROCESS.onnx RESNET18.onnx OUTPUT-FOLDER [PROJECTION.bin]");
    Console.Error.WriteLine("       ResNetTower features MANIFEST BACKBONE.onnx IMAGE-FOLDER OUTPUT-PREFIX");
    return 2;
}
